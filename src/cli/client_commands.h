#pragma once
// `cleave mb|ls|cp|rm|cat|stat`: a small S3 client for people who have none.
// Endpoint and credentials come from flags or CLEAVE_ENDPOINT,
// CLEAVE_ACCESS_KEY, CLEAVE_SECRET_KEY (AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY also work).

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/s3_client.h"

namespace cleave::cli {

void add_client_commands(CLI::App& app);

// A client for `endpoint` (empty: $CLEAVE_ENDPOINT or http://127.0.0.1:9000)
// signing with the given keys (empty: from the environment, as above).
Result<std::unique_ptr<S3Client>> connect_client(const std::string& endpoint,
                                                 const std::string& access_key,
                                                 const std::string& secret_key,
                                                 const std::string& region);

}  // namespace cleave::cli
