// The id of each guidance document: a random (version 4) UUID, lowercase.
#pragma once

#include <string>

namespace ppmg::core {

// The bytes come from Poco's RandomInputStream (the system's entropy source), as with
// Poco::UUIDGenerator::createRandom, but drawn 4 KiB at a time per thread: createRandom opens,
// reads and closes /dev/urandom for every id, which cost more than writing the document. A pool is
// never shared between threads, nor with a forked child. Threads: any.
std::string newDocumentId();

}  // namespace ppmg::core
