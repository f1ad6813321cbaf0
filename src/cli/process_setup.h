#pragma once
// What every long-running `cleave` process (dev, server) does at start:
// credentials, the data directory lock, the signals it stops on.

#include <csignal>
#include <string>

#include "common/status.h"
#include "s3/credentials.h"

namespace cleave::cli {

struct Creds {
    std::string access_key, secret_key;
    s3::StaticCredentialProvider provider;
};

// CLEAVE_ACCESS_KEY / CLEAVE_SECRET_KEY when both are set; else the first
// pair of DATA/credentials, generated (random) and written there if absent.
Result<Creds> load_credentials(const std::string& data_dir);

// One process per data directory: an exclusive flock on DATA/LOCK, held
// until the returned descriptor is closed (or the process ends).
Result<int> lock_data_dir(const std::string& data_dir);

// Blocks SIGTERM and SIGINT (to be received with sigwait) and ignores
// SIGPIPE. Call before any thread starts, so every thread inherits the mask.
sigset_t block_stop_signals();

}  // namespace cleave::cli
