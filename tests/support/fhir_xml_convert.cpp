#include "support/fhir_xml_convert.hpp"

#include <simdjson.h>

#include <cstdio>
#include <stdexcept>
#include <string_view>

namespace ppmg::test {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

void escape(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\n': out += "&#10;"; break;
            case '\r': out += "&#13;"; break;
            case '\t': out += "&#9;"; break;
            default: out.push_back(c);
        }
    }
}

std::string primitiveText(element e) {
    switch (e.type()) {
        case element_type::STRING: return std::string(std::string_view(e.get_string()));
        case element_type::BOOL: return bool(e.get_bool()) ? "true" : "false";
        case element_type::INT64: return std::to_string(int64_t(e.get_int64()));
        case element_type::UINT64: return std::to_string(uint64_t(e.get_uint64()));
        case element_type::DOUBLE: {
            char buf[40];
            std::snprintf(buf, sizeof buf, "%.17g", double(e.get_double()));
            return buf;
        }
        default: return "";
    }
}

bool skipped(std::string_view key) {
    return key.empty() || key[0] == '_' || key == "extension" || key == "modifierExtension" || key == "div" ||
           key == "resourceType";
}

void writeResource(std::string& out, object o, bool root);

void writeValue(std::string& out, std::string_view name, element e) {
    switch (e.type()) {
        case element_type::ARRAY:
            for (element item : array(e.get_array())) writeValue(out, name, item);
            return;
        case element_type::OBJECT: {
            object o = e.get_object();
            element type;
            if (!o["resourceType"].get(type)) {  // entry.resource, contained[i], ...
                out.append("<").append(name).append(">");
                writeResource(out, o, false);
                out.append("</").append(name).append(">");
                return;
            }
            out.append("<").append(name);
            element id;
            if (!o["id"].get(id) && id.type() == element_type::STRING) {  // an element id: an attribute
                out.append(" id=\"");
                escape(out, primitiveText(id));
                out.append("\"");
            }
            out.append(">");
            for (auto field : o) {
                if (skipped(field.key) || field.key == "id") continue;
                writeValue(out, field.key, field.value);
            }
            out.append("</").append(name).append(">");
            return;
        }
        case element_type::NULL_VALUE: return;
        default:
            out.append("<").append(name).append(" value=\"");
            escape(out, primitiveText(e));
            out.append("\"/>");
    }
}

void writeResource(std::string& out, object o, bool root) {
    element type;
    std::string_view t;
    if (o["resourceType"].get(type) || type.get(t)) throw std::runtime_error("a resource without resourceType");
    out.append("<").append(t);
    if (root) out.append(" xmlns=\"http://hl7.org/fhir\"");
    out.append(">");
    for (auto field : o) {
        if (skipped(field.key)) continue;
        writeValue(out, field.key, field.value);  // a resource's id is an element
    }
    out.append("</").append(t).append(">");
}

}  // namespace

std::string fhirJsonToXml(const std::string& json) {
    simdjson::dom::parser parser;
    element root;
    if (parser.parse(json).get(root)) throw std::runtime_error("not JSON");
    object o;
    if (root.get(o)) throw std::runtime_error("not a JSON object");
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    writeResource(out, o, true);
    return out;
}

}  // namespace ppmg::test
