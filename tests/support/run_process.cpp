#include "support/run_process.hpp"

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <sstream>
#include <thread>

namespace ppmg::test {

ProcessResult runProcess(const std::vector<std::string>& argv, const std::string& stdinData) {
    Poco::Pipe inPipe, outPipe, errPipe;
    Poco::Process::Args args(argv.begin() + 1, argv.end());
    Poco::ProcessHandle ph = Poco::Process::launch(argv.front(), args, &inPipe, &outPipe, &errPipe);
    ProcessResult r;
    std::thread writer([&] {
        Poco::PipeOutputStream in(inPipe);
        in << stdinData;
        in.close();
    });
    std::thread errReader([&] {
        Poco::PipeInputStream err(errPipe);
        Poco::StreamCopier::copyToString(err, r.err);
    });
    Poco::PipeInputStream out(outPipe);
    Poco::StreamCopier::copyToString(out, r.out);
    errReader.join();
    writer.join();
    r.status = ph.wait();
    return r;
}

std::string ppmgBinary() { return std::string(PPMG_BIN_DIR) + "/ppmg"; }

}  // namespace ppmg::test
