// View links (`{public-url}/view/{token}`): a random token per decision, only its digest stored,
// and the record it was made from kept compressed in the store until the link expires.
#pragma once

#include <string>
#include <string_view>

namespace ppmg::cds {

// 256 random bits (OpenSSL's CSPRNG) as 43 base64url characters. Throws when the generator fails.
std::string newViewToken();
// True when text has the shape of a token (so a lookup is worth making).
bool looksLikeViewToken(std::string_view text);
// SHA-256 of the token, hex: what the store keeps.
std::string viewTokenHash(std::string_view token);

// The record, deflated (zlib) and base64url encoded, and back. unpack throws on damage.
std::string packRecord(std::string_view record);
std::string unpackRecord(std::string_view packed, size_t maxBytes);

}  // namespace ppmg::cds
