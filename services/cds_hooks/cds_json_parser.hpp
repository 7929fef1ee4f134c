// A simdjson parser for one document, borrowed from the thread: parsing a call's JSON allocates
// buffers in proportion to it, so each thread keeps a parser between calls instead of allocating
// (and the allocator trimming) on every call. A large document, or one read while the thread's
// parser is still in use (a nested parse), gets a parser of its own, freed with the lease: a kept
// parser stays as large as the largest document it has read.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>

namespace ppmg::cds {

class ParserLease {
public:
    static constexpr size_t kMaxKeptBytes = size_t(1) << 20;

    explicit ParserLease(size_t documentBytes) {
        Kept& kept = threadKept();
        if (documentBytes <= kMaxKeptBytes && !kept.inUse) {
            kept.inUse = true;
            parser_ = &kept.parser;
        } else {
            own_ = std::make_unique<simdjson::dom::parser>();
            parser_ = own_.get();
        }
    }
    ~ParserLease() {
        if (!own_) threadKept().inUse = false;
    }
    ParserLease(const ParserLease&) = delete;
    ParserLease& operator=(const ParserLease&) = delete;

    simdjson::dom::parser& operator*() const { return *parser_; }
    simdjson::dom::parser* operator->() const { return parser_; }

private:
    struct Kept {
        simdjson::dom::parser parser;
        bool inUse = false;
    };
    static Kept& threadKept() {
        thread_local Kept kept;
        return kept;
    }

    simdjson::dom::parser* parser_ = nullptr;
    std::unique_ptr<simdjson::dom::parser> own_;
};

}  // namespace ppmg::cds
