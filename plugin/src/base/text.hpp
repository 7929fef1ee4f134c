// Text: a string of a record, a view into the record's TextArena (or a literal).
#pragma once

#include <string>
#include <string_view>

namespace ppmg::core {

// A std::string_view that cannot be made from a std::string directly: assigning a temporary (or
// any std::string) to a Text is a compile error, not a dangling view. It still converts from any
// std::string_view and const char*, so a view that already dangles passes: make one from the
// arena (TextArena::keep), a literal, or a view whose storage is known to outlive the Text.
class Text : public std::string_view {
public:
    constexpr Text() = default;
    constexpr Text(std::string_view v) : std::string_view(v) {}
    constexpr Text(const char* literal) : std::string_view(literal) {}
    Text(const std::string&) = delete;
    Text(std::string&&) = delete;
};

}  // namespace ppmg::core
