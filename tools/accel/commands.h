// The `accel` subcommands. Each takes the arguments after its name and returns the process exit
// code: 0 success, 1 failure (a failed verification, a model that does not load), 2 usage error.
#pragma once

#include <span>
#include <string>

#include "accel/status.h"

namespace accel::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int RunCommand(std::span<const std::string> args);
int BenchCommand(std::span<const std::string> args);
int InspectCommand(std::span<const std::string> args);
int VerifyCommand(std::span<const std::string> args);
int OpsCommand(std::span<const std::string> args);
int ProfileCommand(std::span<const std::string> args);

// Prints "accel <command>: <message>" and a hint to stderr; returns kExitUsage.
int UsageError(const std::string& command, const std::string& message);
// Prints "accel <command>: <status>" to stderr; returns kExitFailure.
int Failure(const std::string& command, const Status& status);
// For errors caused by the inputs the user named: InvalidArgument is a usage error (exit 2),
// anything else (unreadable file, ...) a failure (exit 1).
int InputError(const std::string& command, const Status& status);

// `s` as a quoted JSON string, for the --json outputs.
std::string JsonQuote(const std::string& s);

}  // namespace accel::cli
