// The `cleave` binary: one binary runs everything (DESIGN.md §2).
//
//   cleave dev --data DIR --listen HOST:PORT     a one-node store with S3
//   cleave mb|ls|cp|rm|cat|stat ...              a small S3 client

#include <CLI/CLI.hpp>

#include "cli/client_commands.h"
#include "cli/dev_command.h"

int main(int argc, char** argv) {
    CLI::App app{"Cleave: a strongly consistent, S3-compatible object store"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("cleave 0.1.0"));

    cleave::cli::DevOptions dev;
    auto* dev_cmd = app.add_subcommand("dev", "Run a one-node store with an S3 endpoint");
    cleave::cli::add_dev_options(*dev_cmd, dev);
    dev_cmd->callback([&] { std::exit(cleave::cli::run_dev(dev)); });

    cleave::cli::add_client_commands(app);

    CLI11_PARSE(app, argc, argv);
    return 0;
}
