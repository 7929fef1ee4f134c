// The smallest C++ host: the loader library finds, loads and version-checks the installed
// plugin; ppmg.hpp wraps the C ABI in RAII types and exceptions. One engine serves every
// thread: here each record is assessed on a thread of its own.
//
//   ppmg_cpp_host [--plugin PATH] [--as-of YYYY-MM-DD] RECORD.json...
//
// The plugin path defaults to PPMG_EXAMPLE_PLUGIN, which the build takes from the installed
// package (CMake: ${ppmg_PLUGIN}; pkg-config: --variable=plugin ppmg).
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <ppmg/host/plugin_loader.hpp>
#include <ppmg/ppmg.hpp>

#ifndef PPMG_EXAMPLE_PLUGIN
#define PPMG_EXAMPLE_PLUGIN "libppmg_plugin.so"
#endif

namespace {

struct Result {
    std::string file, output, error;
};

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
    std::string pluginPath = PPMG_EXAMPLE_PLUGIN, asOf;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if ((arg == "--plugin" || arg == "--as-of") && i + 1 < argc)
            (arg == "--plugin" ? pluginPath : asOf) = argv[++i];
        else
            files.push_back(arg);
    }
    if (files.empty()) {
        std::cerr << "usage: " << argv[0] << " [--plugin PATH] [--as-of YYYY-MM-DD] RECORD.json...\n";
        return 2;
    }

    try {
        // Loads the library, agrees on the ABI and tells the plugin its path (so it finds the
        // content installed beside it); throws ppmg::host::LoadError naming the path and what
        // was wrong. It must outlive every engine made from its table.
        ppmg::host::Plugin plugin(pluginPath);

        ppmg_engine_options options{};
        options.struct_size = sizeof options;
        options.custodian_name = "Example Hospital";  // content_dir NULL: the installed content
        const ppmg::Engine engine(plugin.core(), &options, plugin.abiVersion());
        const ppmg_content_info info = engine.info();
        std::cout << "plugin " << info.plugin_version << ", content " << info.content_version << "\n";

        // The engine is immutable once created: assess and render may run concurrently on it.
        std::vector<Result> results(files.size());
        std::vector<std::thread> threads;
        for (size_t i = 0; i < files.size(); ++i) {
            threads.emplace_back([&, i] {
                Result& r = results[i];
                r.file = files[i];
                try {
                    const std::string record = readFile(r.file);
                    ppmg::Request request;
                    request.data = record;  // borrowed for the call only
                    request.asOf = asOf;
                    request.sourceName = r.file;
                    r.output = engine.assess(request);
                } catch (const ppmg::Exception& e) {  // a status and where in the record
                    r.error = e.what() + (e.fhirPath().empty() ? "" : " at " + e.fhirPath());
                } catch (const std::exception& e) {
                    r.error = e.what();
                }
            });
        }
        for (auto& t : threads) t.join();

        size_t assessed = 0;
        for (const auto& r : results) {
            if (r.error.empty()) {
                std::cout << r.file << ": " << r.output << "\n";
                ++assessed;
            } else {
                std::cerr << r.file << ": " << r.error << "\n";
            }
        }
        std::cout << "cpp_host: assessed " << assessed << " of " << results.size() << " record(s)\n";
        return assessed == results.size() ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "cpp_host: " << e.what() << "\n";
        return 1;
    }
}
