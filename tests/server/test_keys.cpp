#include "test_keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace ppmg::test {

namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::string bnParam(EVP_PKEY* key, const char* name, int padTo = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error(std::string("no key parameter ") + name);
    int len = BN_num_bytes(bn);
    int size = padTo > len ? padTo : len;
    std::string out(size_t(size), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
    BN_free(bn);
    return out;
}

std::string jsonString(const std::string& s) { return "\"" + s + "\""; }  // test values need no escaping

}  // namespace

std::string base64Url(const std::string& bytes) {
    static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
        out += a[v & 63];
    }
    if (bytes.size() - i == 1) {
        uint32_t v = uint8_t(bytes[i]) << 16;
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
    } else if (bytes.size() - i == 2) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
    }
    return out;
}

std::string randomId() {
    unsigned char b[16];
    RAND_bytes(b, sizeof b);
    char s[40];
    std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                  b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return s;
}

int64_t unixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

TestKey TestKey::generate(const std::string& alg, const std::string& kid) {
    TestKey k;
    k.alg_ = alg;
    k.kid_ = kid;
    EVP_PKEY* p = nullptr;
    if (alg == "ES384")
        p = EVP_EC_gen("P-384");
    else if (alg == "RS384")
        p = EVP_RSA_gen(2048);
    if (!p) throw std::runtime_error("cannot generate a " + alg + " key");
    k.key_.reset(p, PkeyFree());
    return k;
}

TestKey TestKey::load(const std::string& pemFile, const std::string& kid) {
    std::FILE* f = std::fopen(pemFile.c_str(), "r");
    if (!f) throw std::runtime_error("cannot open " + pemFile);
    EVP_PKEY* p = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!p) throw std::runtime_error("not a PEM private key: " + pemFile);
    TestKey k;
    k.kid_ = kid;
    k.key_.reset(p, PkeyFree());
    k.alg_ = EVP_PKEY_is_a(p, "EC") ? "ES384" : "RS384";
    return k;
}

std::string TestKey::publicJwk() const {
    if (alg_ == "ES384")
        return "{\"kty\":\"EC\",\"crv\":\"P-384\",\"use\":\"sig\",\"alg\":\"ES384\",\"kid\":" + jsonString(kid_) +
               ",\"x\":" + jsonString(base64Url(bnParam(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 48))) +
               ",\"y\":" + jsonString(base64Url(bnParam(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 48))) + "}";
    return "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS384\",\"kid\":" + jsonString(kid_) +
           ",\"n\":" + jsonString(base64Url(bnParam(key_.get(), OSSL_PKEY_PARAM_RSA_N))) +
           ",\"e\":" + jsonString(base64Url(bnParam(key_.get(), OSSL_PKEY_PARAM_RSA_E))) + "}";
}

std::string TestKey::jwks() const { return "{\"keys\":[" + publicJwk() + "]}"; }

std::string TestKey::privatePem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, size_t(n));
    BIO_free(bio);
    return out;
}

std::string TestKey::sign(const std::string& headerJson, const std::string& payloadJson) const {
    const std::string input = base64Url(headerJson) + "." + base64Url(payloadJson);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    std::string sig;
    if (EVP_DigestSignInit_ex(ctx, nullptr, "SHA384", nullptr, nullptr, key_.get(), nullptr) != 1 ||
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        throw std::runtime_error("sign failed");
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        throw std::runtime_error("sign failed");
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (alg_ == "ES384") {  // DER -> JOSE r || s
        const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
        ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, long(sig.size()));
        const BIGNUM *r = nullptr, *s = nullptr;
        ECDSA_SIG_get0(es, &r, &s);
        std::string raw(96, '\0');
        BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 48);
        BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 48, 48);
        ECDSA_SIG_free(es);
        sig = raw;
    }
    return input + "." + base64Url(sig);
}

namespace {

std::string payload(Claims c) {
    if (c.iat == 0) c.iat = unixNow();
    if (c.exp == 0) c.exp = c.iat + 300;
    if (c.jti.empty()) c.jti = randomId();
    std::string p = "{\"iss\":" + jsonString(c.iss) + ",\"aud\":" + jsonString(c.aud);
    if (!c.omitExp) p += ",\"exp\":" + std::to_string(c.exp);
    if (!c.omitIat) p += ",\"iat\":" + std::to_string(c.iat);
    if (!c.omitJti) p += ",\"jti\":" + jsonString(c.jti);
    if (c.nbf != 0) p += ",\"nbf\":" + std::to_string(c.nbf);
    return p + "}";
}

}  // namespace

std::string makeToken(const TestKey& key, Claims c) {
    return key.sign("{\"alg\":\"" + key.alg() + "\",\"typ\":\"JWT\",\"kid\":" + jsonString(key.kid()) + "}",
                    payload(c));
}

std::string makeUnsignedToken(const Claims& c) {
    return base64Url("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + base64Url(payload(c)) + ".";
}

std::string makeHmacToken(const std::string& secret, const Claims& c, const std::string& kid) {
    const std::string input =
        base64Url("{\"alg\":\"HS384\",\"typ\":\"JWT\",\"kid\":" + jsonString(kid) + "}") + "." + base64Url(payload(c));
    unsigned char mac[64];
    unsigned int len = 0;
    HMAC(EVP_sha384(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), mac, &len);
    return input + "." + base64Url(std::string(reinterpret_cast<char*>(mac), len));
}

}  // namespace ppmg::test
