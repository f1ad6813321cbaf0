#pragma once
// `cleave mb|ls|cp|rm|cat|stat`: a small S3 client for people who have none.
// Endpoint and credentials come from flags or CLEAVE_ENDPOINT,
// CLEAVE_ACCESS_KEY, CLEAVE_SECRET_KEY (AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY also work).

#include <CLI/CLI.hpp>

namespace cleave::cli {

void add_client_commands(CLI::App& app);

}  // namespace cleave::cli
