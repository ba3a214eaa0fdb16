import CSodium

/// The keys derived from a store's data key (DEK): one for pages, one for meta slots.
final class DataKeys: Sendable {
    /// Which data key this is; bumped by a full rekey and written into every page header.
    let epoch: UInt32
    let dataKey: SecureBytes
    let pageKey: SecureBytes
    let metaKey: SecureBytes

    init(dataKey: SecureBytes, epoch: UInt32) {
        self.epoch = epoch
        self.dataKey = dataKey
        pageKey = KeyHierarchy.deriveSubkey(from: dataKey, id: FileFormat.pageKeyID, context: FileFormat.pageKeyContext)
        metaKey = KeyHierarchy.deriveSubkey(from: dataKey, id: FileFormat.metaKeyID, context: FileFormat.metaKeyContext)
    }
}

/// Key-encryption key (from the credential), data key wrapping, and subkey derivation.
enum KeyHierarchy {
    /// Derives the key-encryption key for a store from its credential and the stored KDF settings.
    /// A password goes through Argon2id; a raw key through keyed BLAKE2b over the salt, so the same
    /// raw key gives different KEKs in different files.
    static func keyEncryptionKey(credential: Credential, algorithm: UInt32, strength: KDFStrength, salt: [UInt8]) throws(SealKVError) -> SecureBytes {
        ensureSodium()
        let kek = SecureBytes(count: FileFormat.keySize)
        switch (credential.kind, algorithm) {
        case (.password, FileFormat.kdfArgon2id):
            let rc = kek.withUnsafeMutableBytes { out in
                credential.secret.withUnsafeBytes { password in
                    salt.withUnsafeBytes { s in
                        crypto_pwhash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(out.count),
                                      password.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(bitPattern: 1)!,
                                      UInt64(password.count), s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      strength.opsLimit, Int(strength.memLimit), crypto_pwhash_ALG_ARGON2ID13)
                    }
                }
            }
            guard rc == 0 else {
                throw SealKVError(.ioError, "Argon2id could not allocate \(strength.memLimit >> 20) MiB to derive the key. Free memory and try again.")
            }
        case (.rawKey, FileFormat.kdfRawKey):
            let context: [UInt8] = FileFormat.rawKeyKEKContext + salt
            _ = kek.withUnsafeMutableBytes { out in
                credential.secret.withUnsafeBytes { key in
                    crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                                       context, UInt64(context.count),
                                       key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
                }
            }
        case (.password, _):
            throw SealKVError(.wrongCredential, "this store is opened with a raw key, not a password. Supply its 32-byte key.")
        case (.rawKey, _):
            throw SealKVError(.wrongCredential, "this store is opened with a password, not a raw key. Supply its password.")
        }
        sealkv_wipe_stack()
        return kek
    }

    /// Encrypts the data key under the KEK. Output: 24-byte nonce, 32-byte ciphertext, 16-byte tag.
    static func wrap(dataKey: SecureBytes, kek: SecureBytes, associatedData: UnsafeRawBufferPointer) -> [UInt8] {
        ensureSodium()
        var out = [UInt8](repeating: 0, count: FileFormat.wrappedKeySize)
        out.withUnsafeMutableBytes { o in
            let base = o.baseAddress!.assumingMemoryBound(to: UInt8.self)
            randombytes_buf(base, 24)
            dataKey.withUnsafeBytes { dek in
                kek.withUnsafeBytes { k in
                    _ = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
                        base + 24, base + 56, nil,
                        dek.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(dek.count),
                        associatedData.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                        nil, base, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return out
    }

    /// Decrypts a wrapped data key; nil when the KEK is wrong or the wrap was altered.
    static func unwrap(_ wrapped: UnsafeRawBufferPointer, kek: SecureBytes, associatedData: UnsafeRawBufferPointer) -> SecureBytes? {
        ensureSodium()
        precondition(wrapped.count == FileFormat.wrappedKeySize)
        let dek = SecureBytes(count: FileFormat.keySize)
        let base = wrapped.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = dek.withUnsafeMutableBytes { out in
            kek.withUnsafeBytes { k in
                crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                    base + 24, 32, base + 56,
                    associatedData.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                    base, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return rc == 0 ? dek : nil
    }

    /// BLAKE2b-based subkey derivation (libsodium's crypto_kdf) with an 8-character context.
    static func deriveSubkey(from key: SecureBytes, id: UInt64, context: StaticString) -> SecureBytes {
        ensureSodium()
        precondition(context.utf8CodeUnitCount == 8)
        let sub = SecureBytes(count: FileFormat.keySize)
        sub.withUnsafeMutableBytes { out in
            key.withUnsafeBytes { k in
                context.withUTF8Buffer { ctx in
                    ctx.withMemoryRebound(to: CChar.self) { c in
                        _ = crypto_kdf_derive_from_key(out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count, id,
                                                       c.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        sealkv_wipe_stack()
        return sub
    }
}
