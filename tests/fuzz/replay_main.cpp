// Replays files through every fuzz target's body without libFuzzer: the regression test that a
// normal (gcc) build runs in CTest. Usage: ppmg_fuzz_replay FILE_OR_DIR...
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

namespace {

void listFiles(const std::string& path, std::vector<std::string>& out) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        out.push_back(path);
        return;
    }
    DIR* d = ::opendir(path.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == ".." || name == "README.md") continue;
        listFiles(path + "/" + name, out);
    }
    ::closedir(d);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) listFiles(argv[i], files);
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
        std::printf("replay %s (%zu bytes)\n", f.c_str(), data.size());
        std::fflush(stdout);
        ppmgFuzzFhirJson(bytes, data.size());
        ppmgFuzzFhirXml(bytes, data.size());
        ppmgFuzzHl7v2(bytes, data.size());
        ppmgFuzzRender(bytes, data.size());
        ppmgFuzzCcda(bytes, data.size());
        ppmgFuzzHttp(bytes, data.size());
    }
    std::printf(
        "replayed %zu file(s) through fuzz_fhir_json, fuzz_fhir_xml, fuzz_hl7v2, fuzz_render, fuzz_ccda and "
        "fuzz_http\n",
        files.size());
    return 0;
}
