#include "write/document_id.hpp"

#include <Poco/RandomStream.h>
#include <Poco/UUID.h>
#include <unistd.h>

#include <cstring>

namespace ppmg::core {

std::string newDocumentId() {
    thread_local unsigned char pool[4096];
    thread_local size_t used = sizeof pool;
    thread_local pid_t owner = 0;
    const pid_t pid = ::getpid();
    if (used + 16 > sizeof pool || owner != pid) {  // empty, or inherited through fork()
        Poco::RandomInputStream random;
        random.read(reinterpret_cast<char*>(pool), sizeof pool);
        used = 0;
        owner = pid;
    }
    unsigned char bytes[16];
    std::memcpy(bytes, pool + used, sizeof bytes);
    std::memset(pool + used, 0, sizeof bytes);  // each random byte serves once
    used += sizeof bytes;
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4: random
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // variant: RFC 4122
    Poco::UUID id;
    id.copyFrom(reinterpret_cast<const char*>(bytes));
    return id.toString();
}

}  // namespace ppmg::core
