// A small command-line flag parser shared by the subcommands.
//
// Flags are `--name value` or `--name=value`; switches are `--name`. Anything not starting with
// "--" is positional. Unknown flags, a missing value and a repeated non-repeatable flag are
// usage errors (the caller exits with code 2).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"

namespace accel::cli {

struct FlagSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // flag -> values, in order given

  bool Has(const std::string& flag) const { return values.count(flag) > 0; }
  // The last value of a flag, or `fallback` when absent.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  const std::vector<std::string>& All(const std::string& flag) const;
};

// `--help` and `-h` are always accepted (as switches named "help").
Result<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const FlagSpec> specs);

// Parse a whole decimal integer within [min, max]; the error names the flag.
Result<int64_t> ParseInt(const std::string& flag, const std::string& text, int64_t min,
                         int64_t max);
// Parse a finite, non-negative floating-point number; the error names the flag.
Result<double> ParseNonNegative(const std::string& flag, const std::string& text);
// Reads an optional integer flag; `fallback` when absent.
Result<int64_t> IntFlag(const ParsedArgs& args, const std::string& flag, int64_t fallback,
                        int64_t min, int64_t max);

// "NAME=VALUE" split at the last '=' (tensor names may contain '='; file names and shapes do
// not). Fails when there is no '=' or either side is empty.
Result<std::pair<std::string, std::string>> SplitAssignment(const std::string& flag,
                                                            const std::string& text);
// "1x3x224x224" -> {1,3,224,224}; "" or "scalar" -> {} (rank 0).
Result<std::vector<int64_t>> ParseShape(const std::string& text);

// The optimizer flags of every command that loads a model: --opt-level N (0..2, default 2) and
// --disable-pass NAME (repeatable), as LoadOptions; plus --weight-cache FILE where the command
// declares it, and --precision fp32|bf16 where the command declares it.
Result<LoadOptions> LoadOptionsFromFlags(const ParsedArgs& args);

}  // namespace accel::cli
