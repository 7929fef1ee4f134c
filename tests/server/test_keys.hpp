// Test-side keys and JWTs for the CDS Hooks server tests: generates ES384 (P-384) and RS384
// keys with OpenSSL, writes them as PEM and as a public JWK Set, and signs tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

typedef struct evp_pkey_st EVP_PKEY;

namespace ppmg::test {

class TestKey {
public:
    // alg "ES384" (a new P-384 key) or "RS384" (a new 2048-bit RSA key).
    static TestKey generate(const std::string& alg, const std::string& kid);
    // Loads a PEM private key (EC P-384 or RSA).
    static TestKey load(const std::string& pemFile, const std::string& kid);

    const std::string& alg() const { return alg_; }
    const std::string& kid() const { return kid_; }
    std::string publicJwk() const;  // one JWK object
    std::string jwks() const;       // {"keys":[publicJwk()]}
    std::string privatePem() const;

    // Signs header.payload (both JSON texts) and returns the compact JWS.
    std::string sign(const std::string& headerJson, const std::string& payloadJson) const;

private:
    std::string alg_, kid_;
    std::shared_ptr<EVP_PKEY> key_;
};

struct Claims {
    std::string iss;
    std::string aud;
    int64_t iat = 0;  // 0 = now
    int64_t exp = 0;  // 0 = iat + 300
    std::string jti;  // "" = a fresh random one
    int64_t nbf = 0;  // 0 = no nbf claim
    bool omitExp = false, omitIat = false, omitJti = false;
};

std::string randomId();
int64_t unixNow();
std::string base64Url(const std::string& bytes);

// A signed token with header {"alg","typ":"JWT","kid"} and the claims.
std::string makeToken(const TestKey& key, Claims c);
// An unsigned token (alg none, empty signature).
std::string makeUnsignedToken(const Claims& c);
// An HS384 token whose HMAC secret is the given text (e.g. the public JWK: the key-confusion attack).
std::string makeHmacToken(const std::string& secret, const Claims& c, const std::string& kid);

}  // namespace ppmg::test
