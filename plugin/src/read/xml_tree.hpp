// A compact, read-only XML element tree for the readers of document formats (C-CDA), made one of
// two ways:
//
//  1. The fast path: a strict scanner over the bytes (readCcda's 60 KB documents in a tenth of
//     libxml2's time). It accepts only a plain subset of XML 1.0 with namespaces: ASCII names; the
//     five predefined entities and character references; comments; processing instructions; an
//     XML declaration. Anything else (a DOCTYPE, any other entity, CDATA, a name or character it
//     does not know, malformed markup, a limit reached) makes it give up, never guess.
//  2. Then, and only then, the shared hardened parse (read/xml_document.hpp: libxml2, no DTD, no
//     entities, the same limits and refusals as FHIR XML), whose tree is converted to this form.
//
// Whatever the fast path accepts, libxml2 accepts too and reads as the same tree: the unit tests
// and the fuzz target fuzz_ccda compare the two on every input (describeTree). Text nodes holding
// only white space are left out (both ways); text is decoded (references, line ends) and attribute
// values normalised as XML 1.0 says.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "read/record_reader.hpp"
#include "read/xml_document.hpp"

namespace ppmg::core::xml {

struct Attribute {
    std::string_view name;  // local name (an undeclared prefix, in lenient mode: the whole qname)
    std::string_view ns;    // namespace uri, "" for none
    std::string_view value;
};

struct Node {
    enum class Kind : uint8_t { Element, Text };
    Kind kind = Kind::Element;
    uint32_t attributeCount = 0;
    std::string_view name;  // Element: local name
    std::string_view ns;    // Element: namespace uri ("" for none)
    std::string_view text;  // Text: decoded
    const Attribute* attributes = nullptr;
    const Node* parent = nullptr;
    const Node* first = nullptr;  // first child (elements and texts, in document order)
    const Node* next = nullptr;   // next sibling
    uint64_t position = 0;        // fast path: byte offset of the node; libxml2: its line
};

class Tree {
public:
    Tree();
    ~Tree();
    Tree(Tree&&) noexcept;
    Tree& operator=(Tree&&) noexcept;

    const Node* root() const { return root_; }
    // The node's line in the input (1-based; 0 when unknown).
    long line(const Node* n) const;
    // Whether the fast path made it (else libxml2).
    bool fast() const { return fast_; }

private:
    friend class Builder;
    struct Block;
    std::vector<std::unique_ptr<char[]>> blocks_;
    char* next_ = nullptr;
    size_t left_ = 0;
    const Node* root_ = nullptr;
    std::string_view input_;
    bool fast_ = false;
    DocPtr doc_;  // the libxml2 document its views point into (libxml2 path)

    // Room for bytes aligned to align (a power of two, at most 8): from the current block, else
    // from a new one (refill).
    void* allocate(size_t bytes, size_t align) {
        const size_t pad = static_cast<size_t>(-reinterpret_cast<uintptr_t>(next_)) & (align - 1);
        if (next_ != nullptr && pad + bytes <= left_) {
            char* p = next_ + pad;
            next_ += pad + bytes;
            left_ -= pad + bytes;
            return p;
        }
        return refill(bytes, align);
    }
    void* refill(size_t bytes, size_t align);
};

// The document as a tree: the fast path, else the shared hardened parse (which refuses what is not
// well-formed, a DTD, an entity, a limit: Error, as parseDocument and checkedRoot). format names the
// format in refusals; strictNamespaces as parseDocument's.
Tree parseTree(std::string_view data, const ReadLimits& limits, const std::string& file, const char* format,
               bool strictNamespaces);

// For the tests and the fuzz target: the fast path alone (false when it gives up), and libxml2's
// reading in the same form; and a canonical text of a tree, to compare the two.
bool parseFast(std::string_view data, const ReadLimits& limits, Tree& out);
Tree parseWithLibxml(std::string_view data, const ReadLimits& limits, const std::string& file, const char* format,
                     bool strictNamespaces);
std::string describeTree(const Tree& tree);

}  // namespace ppmg::core::xml
