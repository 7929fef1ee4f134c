// Runs a program and captures its exit status, stdout and stderr (for command-line tests).
#pragma once

#include <string>
#include <vector>

namespace ppmg::core {}
namespace ppmg::test {
using namespace ppmg::core;  // the tests read the plugin's internals

struct ProcessResult {
    int status = -1;  // exit status, or 128+signal
    std::string out;
    std::string err;
};

ProcessResult runProcess(const std::vector<std::string>& argv, const std::string& stdinData = "");
std::string ppmgBinary();  // build/bin/ppmg

}  // namespace ppmg::test
