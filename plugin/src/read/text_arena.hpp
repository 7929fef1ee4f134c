// Storage for a record's strings: one block (then a few) per record instead of an allocation per
// string. The record's facts hold std::string_views into it; whoever keeps a fact (a PatientRecord,
// an Assessment's Patient) keeps the arena alive through the shared_ptr the record carries.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "read/text.hpp"

namespace ppmg {

class TextArena {
public:
    TextArena() = default;
    TextArena(const TextArena&) = delete;
    TextArena& operator=(const TextArena&) = delete;

    // A copy of s that lives as long as the arena ("" needs no storage).
    Text keep(std::string_view s) {
        if (s.empty()) return {};
        if (s.size() > left_) grow(s.size());
        char* p = next_;
        std::memcpy(p, s.data(), s.size());
        next_ += s.size();
        left_ -= s.size();
        return std::string_view(p, s.size());
    }

    // Bytes held in blocks beyond the first (for tests and the benchmark's curiosity).
    size_t blocks() const { return 1 + extra_.size(); }

private:
    static constexpr size_t kFirst = 6 * 1024;

    void grow(size_t need) {
        size_t size = kFirst << (extra_.size() + 1 < 8 ? extra_.size() + 1 : 8);
        if (size < need) size = need;
        extra_.emplace_back(new char[size]);
        next_ = extra_.back().get();
        left_ = size;
    }

    char first_[kFirst];
    char* next_ = first_;
    size_t left_ = kFirst;
    std::vector<std::unique_ptr<char[]>> extra_;
};

}  // namespace ppmg
