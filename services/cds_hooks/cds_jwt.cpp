#include "cds_jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <simdjson.h>

#include <strings.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace ppmg::cds {

// ---- base64url ----------------------------------------------------------------------------

std::string base64UrlEncode(std::string_view bytes) {
    static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i + 1 == bytes.size()) {
        uint32_t v = uint8_t(bytes[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

bool base64UrlDecode(std::string_view text, std::string& out) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return false;
    out.clear();
    out.reserve(text.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return false;
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(char((acc >> bits) & 0xFF));
        }
    }
    return true;
}

// ---- keys ---------------------------------------------------------------------------------

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::string stringField(object o, const char* name) {
    std::string_view v;
    if (o[name].get_string().get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
}

std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* pkey = nullptr;
    bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
              EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return nullptr;
    }
    // The point must lie on the curve (and an RSA key must be sane).
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
    ok = check && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!ok) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return nullptr;
    }
    return std::shared_ptr<EVP_PKEY>(pkey, PkeyFree());
}

std::shared_ptr<EVP_PKEY> ecKey(const std::string& x, const std::string& y) {
    std::string point = "\x04" + x + y;
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    if (!bld) return nullptr;
    std::shared_ptr<EVP_PKEY> key;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1)
        key = fromParams("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

std::shared_ptr<EVP_PKEY> rsaKey(const std::string& n, const std::string& e) {
    BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), int(n.size()), nullptr);
    BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), int(e.size()), nullptr);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    std::shared_ptr<EVP_PKEY> key;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
        key = fromParams("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return key;
}

// Parses one JWK; returns false with a reason when this service cannot use it.
bool parseJwk(object jwk, VerificationKey& out, std::string& why) {
    out.kid = stringField(jwk, "kid");
    out.kty = stringField(jwk, "kty");
    const std::string use = stringField(jwk, "use"), alg = stringField(jwk, "alg");
    if (!use.empty() && use != "sig") return why = "\"use\" is \"" + use + "\", not \"sig\"", false;
    if (out.kty == "EC") {
        const std::string crv = stringField(jwk, "crv");
        if (crv != "P-384") return why = "EC curve \"" + crv + "\" (only P-384, for ES384)", false;
        if (!alg.empty() && alg != "ES384") return why = "alg \"" + alg + "\" (only ES384 and RS384)", false;
        std::string x, y;
        if (!base64UrlDecode(stringField(jwk, "x"), x) || !base64UrlDecode(stringField(jwk, "y"), y) || x.empty() ||
            y.empty() || x.size() > 48 || y.size() > 48)
            return why = "x and y must be 48-byte base64url coordinates", false;
        // RFC 7518 wants the full 48 bytes; a producer that dropped leading zeros is forgiven.
        x.insert(0, 48 - x.size(), '\0');
        y.insert(0, 48 - y.size(), '\0');
        out.alg = "ES384";
        out.key = ecKey(x, y);
        if (!out.key) return why = "the point is not on the P-384 curve", false;
        return true;
    }
    if (out.kty == "RSA") {
        if (!alg.empty() && alg != "RS384") return why = "alg \"" + alg + "\" (only ES384 and RS384)", false;
        std::string n, e;
        if (!base64UrlDecode(stringField(jwk, "n"), n) || !base64UrlDecode(stringField(jwk, "e"), e) || n.empty() ||
            e.empty())
            return why = "n and e must be base64url", false;
        out.alg = "RS384";
        out.key = rsaKey(n, e);
        if (!out.key) return why = "not a valid RSA public key", false;
        if (EVP_PKEY_get_bits(out.key.get()) < 2048) return why = "RSA key shorter than 2048 bits", false;
        return true;
    }
    return why = "key type \"" + out.kty + "\" (only EC P-384 and RSA)", false;
}

}  // namespace

void KeyStore::addIssuer(const std::string& issuer, const std::string& jwksJson, std::vector<std::string>& skipped) {
    simdjson::dom::parser parser;
    element doc;
    if (parser.parse(jwksJson).get(doc) != simdjson::SUCCESS) throw std::runtime_error("not valid JSON");
    object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) throw std::runtime_error("not a JSON object");
    std::vector<object> jwks;
    simdjson::dom::array keys;
    auto keysField = root["keys"];
    if (keysField.error() == simdjson::SUCCESS) {
        if (keysField.get_array().get(keys) != simdjson::SUCCESS) throw std::runtime_error("\"keys\" is not an array");
        for (element k : keys) {
            object o;
            if (k.get_object().get(o) != simdjson::SUCCESS) throw std::runtime_error("a key is not a JSON object");
            jwks.push_back(o);
        }
    } else {
        jwks.push_back(root);  // a single JWK
    }
    std::vector<VerificationKey>& list = keys_[issuer];
    size_t added = 0;
    for (size_t i = 0; i < jwks.size(); ++i) {
        VerificationKey key;
        std::string why;
        if (parseJwk(jwks[i], key, why)) {
            list.push_back(std::move(key));
            ++added;
        } else {
            skipped.push_back("key " + std::to_string(i) + (key.kid.empty() ? "" : " (kid \"" + key.kid + "\")") +
                              " skipped: " + why);
        }
    }
    if (added == 0) {
        if (list.empty()) keys_.erase(issuer);
        throw std::runtime_error("no usable key (ES384 on P-384, or RS384 with RSA of 2048 bits or more)" +
                                 (skipped.empty() ? std::string() : ": " + skipped.back()));
    }
}

const std::vector<VerificationKey>* KeyStore::keysFor(const std::string& issuer) const {
    auto it = keys_.find(issuer);
    return it == keys_.end() ? nullptr : &it->second;
}

size_t KeyStore::keyCount() const {
    size_t n = 0;
    for (const auto& kv : keys_) n += kv.second.size();
    return n;
}

// ---- replay cache -------------------------------------------------------------------------

ReplayCache::Result ReplayCache::use(const std::string& issuer, const std::string& jti, int64_t forgetAfter,
                                     int64_t now) {
    std::string key;
    key.reserve(issuer.size() + jti.size() + 1);
    key.append(issuer).push_back('\0');
    key.append(jti);
    std::lock_guard<std::mutex> lock(mutex_);
    if (now >= nextPurge_ || seen_.size() >= max_) purge(now);
    auto it = seen_.find(key);
    if (it != seen_.end() && it->second > now) return Result::Replayed;
    if (it != seen_.end()) {
        it->second = forgetAfter;
        return Result::Fresh;
    }
    if (seen_.size() >= max_) return Result::Full;
    seen_.emplace(std::move(key), forgetAfter);
    return Result::Fresh;
}

void ReplayCache::purge(int64_t now) {
    for (auto it = seen_.begin(); it != seen_.end();) {
        if (it->second <= now)
            it = seen_.erase(it);
        else
            ++it;
    }
    nextPurge_ = now + 30;
}

size_t ReplayCache::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.size();
}

// ---- verification -------------------------------------------------------------------------

const char* authFailureCode(AuthFailure f) {
    switch (f) {
        case AuthFailure::Ok: return "ok";
        case AuthFailure::Missing: return "missing-token";
        case AuthFailure::Malformed: return "malformed-token";
        case AuthFailure::Algorithm: return "algorithm-refused";
        case AuthFailure::UnknownIssuer: return "unknown-issuer";
        case AuthFailure::UnknownKey: return "unknown-key";
        case AuthFailure::Signature: return "bad-signature";
        case AuthFailure::Claims: return "missing-claim";
        case AuthFailure::Audience: return "wrong-audience";
        case AuthFailure::Expired: return "expired";
        case AuthFailure::NotYetValid: return "issued-in-future";
        case AuthFailure::TooLong: return "lifetime-too-long";
        case AuthFailure::Replayed: return "replayed";
        case AuthFailure::Busy: return "replay-cache-full";
    }
    return "unknown";
}

std::string normalizeUrl(std::string_view url) {
    std::string s(url);
    size_t schemeEnd = s.find("://");
    if (schemeEnd == std::string::npos) return s;
    std::string scheme = s.substr(0, schemeEnd);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t hostStart = schemeEnd + 3;
    size_t pathStart = s.find_first_of("/?#", hostStart);
    std::string host = s.substr(hostStart, pathStart == std::string::npos ? std::string::npos : pathStart - hostStart);
    std::string path = pathStart == std::string::npos ? "" : s.substr(pathStart);
    std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
    auto dropPort = [&](const char* port) {
        std::string suffix = std::string(":") + port;
        if (host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0)
            host.resize(host.size() - suffix.size());
    };
    if (scheme == "http") dropPort("80");
    if (scheme == "https") dropPort("443");
    while (!path.empty() && path.back() == '/') path.pop_back();
    return scheme + "://" + host + path;
}

namespace {

AuthResult fail(AuthResult r, AuthFailure f, std::string detail) {
    r.failure = f;
    r.detail = std::move(detail);
    return r;
}

bool parseObject(simdjson::dom::parser& parser, const std::string& json, object& out) {
    element doc;
    return parser.parse(json).get(doc) == simdjson::SUCCESS && doc.get_object().get(out) == simdjson::SUCCESS;
}

// A NumericDate: an integer or a finite number of seconds.
bool numericDate(object o, const char* name, int64_t& out) {
    element e;
    if (o[name].get(e) != simdjson::SUCCESS) return false;
    int64_t i;
    uint64_t u;
    double d;
    if (e.get_int64().get(i) == simdjson::SUCCESS) {
        out = i;
        return true;
    }
    if (e.get_uint64().get(u) == simdjson::SUCCESS) {
        out = INT64_MAX;
        (void)u;
        return true;
    }
    if (e.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && std::fabs(d) < 9e15) {
        out = static_cast<int64_t>(std::floor(d));
        return true;
    }
    return false;
}

bool verifySignature(const VerificationKey& key, std::string_view signingInput, const std::string& signature) {
    std::string der;
    const std::string* sig = &signature;
    if (key.alg == "ES384" && signature.size() != 96) {
        // JOSE carries r || s (48 bytes each). Some signers send the DER ECDSA-Sig-Value
        // instead; it is accepted when it is exactly that (the key still has to verify it).
        const unsigned char* p = reinterpret_cast<const unsigned char*>(signature.data());
        ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, long(signature.size()));
        const bool exact = es && p == reinterpret_cast<const unsigned char*>(signature.data()) + signature.size();
        ECDSA_SIG_free(es);
        if (!exact) return false;
    } else if (key.alg == "ES384") {
        // JOSE carries r || s (48 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
        ECDSA_SIG* es = ECDSA_SIG_new();
        BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 48, nullptr);
        BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 48, 48, nullptr);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        unsigned char* buf = nullptr;
        int len = i2d_ECDSA_SIG(es, &buf);
        ECDSA_SIG_free(es);
        if (len <= 0) return false;
        der.assign(reinterpret_cast<char*>(buf), size_t(len));
        OPENSSL_free(buf);
        sig = &der;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) return false;
    bool ok = EVP_DigestVerifyInit_ex(ctx, nullptr, "SHA384", nullptr, nullptr, key.key.get(), nullptr) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                               reinterpret_cast<const unsigned char*>(signingInput.data()), signingInput.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) ERR_clear_error();  // a refused signature is no error of this thread's later calls
    return ok;
}

}  // namespace

AuthResult JwtVerifier::verify(std::string_view header, const std::vector<std::string>& audiences, int64_t now) {
    AuthResult r;
    // "Bearer" is case-insensitive (RFC 6750 via RFC 7235); one or more spaces follow.
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    if (header.size() < 7 || strncasecmp(header.data(), "Bearer ", 7) != 0)
        return fail(r, AuthFailure::Missing, header.empty() ? "no Authorization header" : "not a Bearer token");
    std::string_view token = header.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token.empty()) return fail(r, AuthFailure::Missing, "empty Bearer token");
    if (token.size() > 16384) return fail(r, AuthFailure::Malformed, "token longer than 16 KiB");

    const size_t dot1 = token.find('.');
    const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return fail(r, AuthFailure::Malformed, "not a JWS in compact form (three parts)");
    std::string headerJson, payloadJson, signature;
    if (!base64UrlDecode(token.substr(0, dot1), headerJson) ||
        !base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), payloadJson) ||
        !base64UrlDecode(token.substr(dot2 + 1), signature))
        return fail(r, AuthFailure::Malformed, "a part is not base64url");

    thread_local simdjson::dom::parser parser;
    object h;
    if (!parseObject(parser, headerJson, h)) return fail(r, AuthFailure::Malformed, "the header is not a JSON object");
    r.alg = stringField(h, "alg");
    r.kid = stringField(h, "kid");
    const std::string typ = stringField(h, "typ");
    const bool hasCrit = h["crit"].error() == simdjson::SUCCESS;
    if (r.alg != "ES384" && r.alg != "RS384")
        return fail(r, AuthFailure::Algorithm, "alg \"" + r.alg.substr(0, 16) + "\" refused (only ES384 and RS384)");
    if (!typ.empty() && strcasecmp(typ.c_str(), "JWT") != 0) return fail(r, AuthFailure::Malformed, "typ is not JWT");
    if (hasCrit) return fail(r, AuthFailure::Algorithm, "crit header parameters are not supported");
    if (signature.empty()) return fail(r, AuthFailure::Signature, "no signature");

    object p;
    if (!parseObject(parser, payloadJson, p))
        return fail(r, AuthFailure::Malformed, "the payload is not a JSON object");
    r.issuer = stringField(p, "iss");
    r.jti = stringField(p, "jti");
    r.tenant = stringField(p, "tenant");
    r.subject = stringField(p, "sub").substr(0, 256);
    int64_t exp = 0, iat = 0;
    const bool hasExp = numericDate(p, "exp", exp), hasIat = numericDate(p, "iat", iat);
    std::vector<std::string> auds;
    {
        element aud;
        if (p["aud"].get(aud) == simdjson::SUCCESS) {
            std::string_view s;
            simdjson::dom::array arr;
            if (aud.get_string().get(s) == simdjson::SUCCESS) {
                auds.emplace_back(s);
            } else if (aud.get_array().get(arr) == simdjson::SUCCESS) {
                for (element a : arr)
                    if (a.get_string().get(s) == simdjson::SUCCESS) auds.emplace_back(s);
            }
        }
    }
    if (r.issuer.empty()) return fail(r, AuthFailure::Claims, "no iss");
    if (r.issuer.size() > 512) return fail(r, AuthFailure::UnknownIssuer, "iss too long");

    const std::vector<VerificationKey>* keys = keys_->keysFor(r.issuer);
    if (!keys) {
        AuthResult out = fail(r, AuthFailure::UnknownIssuer, "issuer not configured");
        out.issuer = out.issuer.substr(0, 128);
        return out;
    }
    const std::string_view signingInput = token.substr(0, dot2);
    // The key named by kid; when no key has that kid (or either has none), every key of the
    // issuer for the algorithm: they are all trusted for this issuer alike.
    bool anyKey = false, verified = false, kidMatched = false;
    for (const VerificationKey& k : *keys)
        if (k.alg == r.alg && !r.kid.empty() && k.kid == r.kid) kidMatched = true;
    for (const VerificationKey& k : *keys) {
        if (k.alg != r.alg || (kidMatched && k.kid != r.kid)) continue;
        anyKey = true;
        if (verifySignature(k, signingInput, signature)) {
            verified = true;
            break;
        }
    }
    if (!anyKey) return fail(r, AuthFailure::UnknownKey, "the issuer has no " + r.alg + " key");
    if (!verified)
        return fail(r, AuthFailure::Signature,
                    std::string("the signature does not verify") + (kidMatched ? "" : " (no key with this kid)"));

    // The claims, now that they are known to come from the issuer.
    if (!hasExp || !hasIat || r.jti.empty() || auds.empty())
        return fail(r, AuthFailure::Claims, "exp, iat, jti and aud are all required");
    if (r.jti.size() > 256) return fail(r, AuthFailure::Claims, "jti longer than 256 characters");
    bool audOk = false;
    for (const auto& want : audiences)
        for (const auto& a : auds)
            if (normalizeUrl(a) == normalizeUrl(want)) audOk = true;
    if (!audOk)
        return fail(r, AuthFailure::Audience,
                    "aud is not " + (audiences.empty() ? std::string("?") : audiences.front()));
    const int64_t skew = options_.clockSkewSeconds;
    if (exp <= now - skew) return fail(r, AuthFailure::Expired, "expired " + std::to_string(now - exp) + " s ago");
    if (iat > now + skew)
        return fail(r, AuthFailure::NotYetValid, "issued " + std::to_string(iat - now) + " s in the future");
    if (exp > now + options_.maxLifetimeSeconds + skew)
        return fail(r, AuthFailure::TooLong,
                    "exp more than " + std::to_string(options_.maxLifetimeSeconds) + " s ahead");
    if (guard_) {  // a shared replay cache (Redis): unreachable means refused, never unchecked
        switch (guard_->use(r.issuer, r.jti, exp + skew + 1, now)) {
            case ReplayGuard::Result::Fresh: break;
            case ReplayGuard::Result::Replayed: return fail(r, AuthFailure::Replayed, "jti already used");
            case ReplayGuard::Result::Unavailable:
                return fail(r, AuthFailure::Busy, "the replay cache (" + guard_->describe() + ") cannot be reached");
        }
        r.failure = AuthFailure::Ok;
        r.detail.clear();
        return r;
    }
    switch (replay_.use(r.issuer, r.jti, exp + skew + 1, now)) {
        case ReplayCache::Result::Fresh: break;
        case ReplayCache::Result::Replayed: return fail(r, AuthFailure::Replayed, "jti already used");
        case ReplayCache::Result::Full: return fail(r, AuthFailure::Busy, "too many live tokens to remember");
    }
    r.failure = AuthFailure::Ok;
    r.detail.clear();
    return r;
}

}  // namespace ppmg::cds
