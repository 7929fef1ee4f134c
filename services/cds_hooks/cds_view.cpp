#include "cds_view.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <stdexcept>

#include "cds_jwt.hpp"

namespace ppmg::cds {

std::string newViewToken() {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("the random generator failed");
    return base64UrlEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

bool looksLikeViewToken(std::string_view text) {
    if (text.size() != 43) return false;
    for (char c : text)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

std::string viewTokenHash(std::string_view token) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(token.data(), static_cast<unsigned>(token.size()));
    return Poco::DigestEngine::digestToHex(sha.digest());
}

namespace {

// A thread's deflate state, kept between records: deflateInit allocates about 270 KB (window,
// hash chains) and zeroes it, which cost more than compressing a typical record; deflateReset
// reuses it.
class Deflater {
public:
    Deflater() { ok_ = deflateInit(&z_, 6) == Z_OK; }
    ~Deflater() {
        if (ok_) deflateEnd(&z_);
    }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    std::string deflate(std::string_view in) {
        if (!ok_ || deflateReset(&z_) != Z_OK) throw std::runtime_error("cannot compress the record");
        std::string out(deflateBound(&z_, uLong(in.size())), '\0');
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z_.avail_in = uInt(in.size());
        z_.next_out = reinterpret_cast<Bytef*>(out.data());
        z_.avail_out = uInt(out.size());
        if (::deflate(&z_, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("cannot compress the record");
        out.resize(out.size() - z_.avail_out);
        return out;
    }

private:
    z_stream z_{};
    bool ok_ = false;
};

}  // namespace

std::string packRecord(std::string_view record) {
    // deflateBound and avail_in are 32-bit: a record never comes near that (the request limit).
    if (record.size() > (1ull << 31)) throw std::runtime_error("the record is too large to keep");
    thread_local Deflater deflater;
    return base64UrlEncode(deflater.deflate(record));
}

std::string unpackRecord(std::string_view packed, size_t maxBytes) {
    std::string raw;
    if (!base64UrlDecode(packed, raw)) throw std::runtime_error("the stored record is damaged");
    z_stream z{};
    if (inflateInit(&z) != Z_OK) throw std::runtime_error("cannot decompress the record");
    z.next_in = reinterpret_cast<Bytef*>(raw.data());
    z.avail_in = uInt(raw.size());
    std::string out;
    char buf[65536];
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
        if (out.size() > maxBytes) rc = Z_MEM_ERROR;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("the stored record is damaged");
    return out;
}

}  // namespace ppmg::cds
