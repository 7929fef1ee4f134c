// Random identifiers for the service: UUIDs for cards and AuditEvents, from OpenSSL's CSPRNG.
#pragma once

#include <string>

namespace ppmg::cds {

// A version 4 UUID (RFC 9562), lower-case, 36 characters. Throws when the generator fails.
std::string randomUuid();

}  // namespace ppmg::cds
