#include "cli_common.hpp"

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace ppmg::cli {

Args parseArgs(int argc, char** argv, int first, const std::vector<std::string>& valued,
               const std::vector<std::string>& flags) {
    Args a;
    auto in = [](const std::vector<std::string>& v, const std::string& s) {
        for (const auto& x : v)
            if (x == s) return true;
        return false;
    };
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--") {
            for (++i; i < argc; ++i) a.positional.emplace_back(argv[i]);
            break;
        }
        if (s.size() > 1 && s[0] == '-') {
            std::string key = s, value;
            bool inlineValue = false;
            if (auto eq = s.find('='); eq != std::string::npos && s.rfind("--", 0) == 0) {
                key = s.substr(0, eq);
                value = s.substr(eq + 1);
                inlineValue = true;
            }
            if (in(valued, key)) {
                if (!inlineValue) {
                    if (i + 1 >= argc) throw std::invalid_argument(key + " needs a value");
                    value = argv[++i];
                }
                a.options[key].push_back(value);
            } else if (in(flags, key) && !inlineValue) {
                a.options[key];
            } else {
                throw std::invalid_argument("unknown option " + s);
            }
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::string readFile(const std::string& path, size_t maxBytes) {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (path != "-") {
        f.open(path, std::ios::binary);
        if (!f) throw std::runtime_error("cannot open the file");
        in = &f;
    }
    std::string data;
    std::vector<char> chunk(1 << 16);
    while (in->read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in->gcount() > 0) {
        data.append(chunk.data(), static_cast<size_t>(in->gcount()));
        if (data.size() > maxBytes)
            throw std::runtime_error("the input is over the limit of " + std::to_string(maxBytes) + " bytes");
    }
    if (in->bad()) throw std::runtime_error("cannot read the file");
    return data;
}

void writeFileAtomic(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw std::runtime_error("cannot write " + path);
        f.write(data.data(), static_cast<std::streamsize>(data.size()));
        f.close();
        if (!f) {
            std::remove(tmp.c_str());
            throw std::runtime_error("cannot write " + path);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot write " + path);
    }
}

const std::vector<std::string>& engineOptions() {
    static const std::vector<std::string> v = {"--plugin", "--content", "--custodian", "--custodian-oid"};
    return v;
}

Session openSession(const Args& args) {
    Session s;
    s.plugin = host::Plugin::find(args.get("--plugin"));
    ppmg_engine_options opts{};
    opts.struct_size = sizeof opts;
    std::string content = args.get("--content"), custodian = args.get("--custodian"), oid = args.get("--custodian-oid");
    if (!content.empty()) opts.content_dir = content.c_str();
    if (!custodian.empty()) opts.custodian_name = custodian.c_str();
    if (!oid.empty()) opts.custodian_oid = oid.c_str();
    s.engine = std::make_unique<ppmg::Engine>(s.plugin->core(), &opts);
    return s;
}

bool openSessionOrReport(const Args& args, Session& out) {
    try {
        out = openSession(args);
        return true;
    } catch (const host::LoadError& e) {
        printError("", e.what());
    } catch (const ppmg::Exception& e) {
        printException("", e);
    }
    return false;
}

void printError(const std::string& file, const std::string& message) {
    std::string line = "ppmg: ";
    if (!file.empty()) line += file + ": ";
    line += message;
    for (char& c : line)
        if (c == '\n' || c == '\r') c = ' ';
    std::cerr << line << std::endl;
}

void printException(const std::string& file, const ppmg::Exception& e) {
    std::string msg = e.what();
    std::string where;
    if (!e.resourceId().empty()) where += e.resourceId();
    if (!e.fhirPath().empty()) where += (where.empty() ? "" : " at ") + e.fhirPath();
    // The line, unless the message already gives it.
    if (e.line() > 0 && msg.find("(line ") == std::string::npos)
        where += (where.empty() ? "line " : ", line ") + std::to_string(e.line());
    if (!where.empty()) msg += " (" + where + ")";
    printError(e.file().empty() ? file : e.file(), msg);
}

bool isInputError(ppmg_status s) { return isInputStatus(s); }

}  // namespace ppmg::cli
