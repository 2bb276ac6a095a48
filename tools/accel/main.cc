// `accel`: the libaccel command-line tool. Dispatches to one subcommand per file.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"

namespace accel::cli {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(std::span<const std::string>);
};

constexpr Command kCommands[] = {
    {"run", "run a model once on given or random inputs", RunCommand},
    {"bench", "measure load time, first-run time and latency", BenchCommand},
    {"profile", "time every node: top nodes, time per op type", ProfileCommand},
    {"inspect", "show inputs, outputs, op histogram and unsupported ops", InspectCommand},
    {"verify", "run ONNX backend-test directories and compare outputs", VerifyCommand},
    {"ops", "list the operators the CPU backend implements", OpsCommand},
};

void PrintHelp(std::FILE* out) {
  std::fputs("usage: accel <command> [options]\n\ncommands:\n", out);
  for (const Command& c : kCommands) std::fprintf(out, "  %-8s %s\n", c.name, c.summary);
  std::fputs("\nRun 'accel <command> --help' for the options of a command.\n", out);
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintHelp(stderr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintHelp(stdout);
    return kExitOk;
  }
  for (const Command& c : kCommands) {
    if (args[0] == c.name) return c.run(std::span(args).subspan(1));
  }
  std::fprintf(stderr, "accel: unknown command '%s'\n\n", args[0].c_str());
  PrintHelp(stderr);
  return kExitUsage;
}

}  // namespace

int UsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "accel %s: %s\n(see 'accel %s --help')\n", command.c_str(), message.c_str(),
               command.c_str());
  return kExitUsage;
}

int Failure(const std::string& command, const Status& status) {
  std::fprintf(stderr, "accel %s: %s\n", command.c_str(), status.ToString().c_str());
  return kExitFailure;
}

int InputError(const std::string& command, const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument) return UsageError(command, status.message());
  return Failure(command, status);
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace accel::cli

int main(int argc, char** argv) {
  try {
    return accel::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "accel: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "accel: internal error\n");
  }
  return accel::cli::kExitFailure;
}
