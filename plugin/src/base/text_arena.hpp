// Storage for a record's strings and coding lists: one block (then a few) per record instead of an
// allocation per string. The record's facts hold views (Text) into it; whoever keeps a fact (a
// PatientRecord, an Assessment's Patient) keeps the arena alive through the shared_ptr the record
// carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/text.hpp"

namespace ppmg::core {

class TextArena {
public:
    TextArena() {}  // user-provided: make_shared must not zero the first block
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

    // Room for n default-constructed T (trivially destructible: the arena never runs destructors).
    template <class T>
    T* make(size_t n) {
        static_assert(std::is_trivially_destructible_v<T>, "the arena frees memory, it runs no destructors");
        if (n == 0) return nullptr;
        if (n > (SIZE_MAX - alignof(T)) / sizeof(T)) throw std::bad_alloc();
        const size_t bytes = n * sizeof(T);
        if (padding<T>() + bytes > left_) grow(bytes + alignof(T));  // a new block: enough even unaligned
        const size_t pad = padding<T>();
        T* p = reinterpret_cast<T*>(next_ + pad);
        next_ += pad + bytes;
        left_ -= pad + bytes;
        for (size_t i = 0; i < n; ++i) new (p + i) T();
        return p;
    }

    // How many blocks hold the strings (tests).
    size_t blocks() const { return 1 + extra_.size(); }

private:
    static constexpr size_t kFirst = 16 * 1024;  // a 50-resource record fits

    template <class T>
    size_t padding() const {
        return (alignof(T) - reinterpret_cast<uintptr_t>(next_) % alignof(T)) % alignof(T);
    }

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

}  // namespace ppmg::core
