#include "cds_service_content.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/SHA2Engine.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>

namespace ppmg::cds {

namespace {

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string attr(const xmlNode* n, const char* name) {
    xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
    if (!v) return {};
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return s;
}

std::string text(const xmlNode* n) {
    xmlChar* v = xmlNodeGetContent(n);
    if (!v) return {};
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    // Collapse the layout whitespace of the file.
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            space = !out.empty();
        } else {
            if (space) out.push_back(' ');
            space = false;
            out.push_back(c);
        }
    }
    return out;
}

bool named(const xmlNode* n, const char* name) {
    return n->type == XML_ELEMENT_NODE && std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

template <class Fn>
void forChildren(const xmlNode* parent, const char* name, Fn fn) {
    for (const xmlNode* c = parent->children; c; c = c->next)
        if (named(c, name)) fn(c);
}

template <class Fn>
void forDescendants(const xmlNode* parent, Fn fn) {
    for (const xmlNode* c = parent->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        fn(c);
        forDescendants(c, fn);
    }
}

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

ServiceContent loadServiceContent(const std::string& contentDir) {
    ServiceContent sc;
    sc.file = Poco::Path(Poco::Path(contentDir).makeDirectory(), "ppmg-content.xml").toString();
    const std::string bytes = readAll(sc.file);
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(bytes.data(), static_cast<unsigned>(bytes.size()));
    sc.sha256 = Poco::DigestEngine::digestToHex(sha.digest());

    std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(bytes.data(), int(bytes.size()), sc.file.c_str(), nullptr,
                                                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) throw std::runtime_error(sc.file + ": not well-formed XML");
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!root || !named(root, "content")) throw std::runtime_error(sc.file + ": the root is not <content>");
    sc.version = attr(root, "version");

    struct System {
        std::string uri;
        bool prefix = false;
    };
    std::map<std::string, System> systems;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> valueSets;  // id -> (system id, code)
    std::map<std::string, std::string> measures;                                        // id -> value set
    std::string dateObservation, woundStatus;
    const xmlNode* rules = nullptr;
    const xmlNode* gaps = nullptr;
    for (const xmlNode* c = root->children; c; c = c->next) {
        if (named(c, "codeSystems")) {
            forChildren(c, "codeSystem", [&](const xmlNode* s) {
                systems[attr(s, "id")] = System{attr(s, "uri"), attr(s, "prefix") == "true"};
                if (attr(s, "id") == "ppm") sc.localSystem = attr(s, "uri");
            });
        } else if (named(c, "valueSets")) {
            forChildren(c, "valueSet", [&](const xmlNode* v) {
                auto& codes = valueSets[attr(v, "id")];
                forChildren(v, "code",
                            [&](const xmlNode* code) { codes.emplace_back(attr(code, "system"), attr(code, "code")); });
            });
        } else if (named(c, "measures")) {
            forChildren(c, "measure", [&](const xmlNode* m) { measures[attr(m, "id")] = attr(m, "valueSet"); });
        } else if (named(c, "delivery")) {
            dateObservation = attr(c, "dateObservation");
            woundStatus = attr(c, "woundStatus");
        } else if (named(c, "rules")) {
            rules = c;
        } else if (named(c, "dataGaps")) {
            gaps = c;
        } else if (named(c, "overrideReasons")) {
            forChildren(c, "reason", [&](const xmlNode* r) { sc.overrideReasons.push_back({attr(r, "id"), text(r)}); });
        } else if (named(c, "handout")) {
            std::vector<std::pair<std::string, std::string>> languages;  // code, name
            std::map<std::string, std::string> titles;                   // code -> title
            forChildren(c, "languages", [&](const xmlNode* ls) {
                forChildren(ls, "language",
                            [&](const xmlNode* l) { languages.emplace_back(attr(l, "code"), attr(l, "name")); });
            });
            forChildren(c, "phrases", [&](const xmlNode* ps) {
                forChildren(ps, "phrase", [&](const xmlNode* p) {
                    if (attr(p, "id") == "title")
                        forChildren(p, "t", [&](const xmlNode* t) { titles[attr(t, "lang")] = text(t); });
                });
            });
            for (const auto& [code, name] : languages) {
                auto t = titles.find(code);
                if (t == titles.end())
                    throw std::runtime_error(sc.file + ": the handout has no title in '" + code + "'");
                sc.handouts.push_back({code, t->second + " (" + name + ")"});
            }
        }
    }
    if (sc.localSystem.empty()) throw std::runtime_error(sc.file + ": no local code system (id \"ppm\")");

    auto codesOf = [&](const std::string& valueSet, std::vector<SystemCode>& out) {
        auto it = valueSets.find(valueSet);
        if (it == valueSets.end()) throw std::runtime_error(sc.file + ": unknown value set '" + valueSet + "'");
        for (const auto& [systemId, code] : it->second) {
            auto s = systems.find(systemId);
            if (s == systems.end()) throw std::runtime_error(sc.file + ": unknown code system '" + systemId + "'");
            if (s->second.prefix) sc.fetch.prefixCodes = true;
            SystemCode sc2{s->second.uri, code};
            if (std::find(out.begin(), out.end(), sc2) == out.end()) out.push_back(sc2);
        }
    };
    // Every measure, and the wound status, are read within a window; the window is the largest
    // any clause of a rule or a data gap uses (a clause without one would need every date).
    bool unbounded = false;
    auto scan = [&](const xmlNode* n) {
        if (named(n, "observation") || named(n, "noObservation") || named(n, "woundStatus")) {
            const std::string days = attr(n, "withinDays");
            if (days.empty()) {
                unbounded = true;
            } else {
                sc.fetch.observationWindowDays = std::max(sc.fetch.observationWindowDays, std::stoi(days));
            }
        }
    };
    if (rules) forDescendants(rules, scan);
    if (gaps) forDescendants(gaps, scan);
    if (unbounded) sc.fetch.observationWindowDays = -1;  // no date filter
    for (const auto& m : measures) codesOf(m.second, sc.fetch.observationCodes);
    if (!woundStatus.empty()) codesOf(woundStatus, sc.fetch.observationCodes);
    if (!dateObservation.empty()) codesOf(dateObservation, sc.fetch.deliveryDateCodes);
    return sc;
}

std::string findContentDir(const std::string& option, const std::string& pluginPath, const std::string& installRel,
                           const std::string& sourceDir) {
    if (!option.empty()) return option;
    if (!pluginPath.empty()) {
        Poco::Path installed = Poco::Path(pluginPath).parent();
        for (int up = 1; up <= 2 && installed.depth() > 0; ++up) {
            installed.popDirectory();
            Poco::Path candidate(installed);
            candidate.append(Poco::Path(installRel).makeDirectory());
            if (Poco::File(candidate.toString() + "ppmg-content.xml").exists()) return candidate.toString();
        }
    }
    return sourceDir;
}

}  // namespace ppmg::cds
