// Text: a string of a record, a view into the record's TextArena (or a literal).
#pragma once

#include <string>
#include <string_view>

namespace ppmg {

// A std::string_view that cannot be made from a std::string: keeping a view of a temporary (or
// of a string that dies first) is a compile error, not a dangling view. Make one from the arena
// (TextArena::keep), a literal, or a string_view whose storage is known to live long enough.
class Text : public std::string_view {
public:
    constexpr Text() = default;
    constexpr Text(std::string_view v) : std::string_view(v) {}
    constexpr Text(const char* literal) : std::string_view(literal) {}
    Text(const std::string&) = delete;
    Text(std::string&&) = delete;
};

}  // namespace ppmg
