// The `cleave` binary: one binary runs everything (DESIGN.md §2).
//
//   cleave dev --data DIR --listen HOST:PORT     a one-node store with S3
//   cleave server --data DIR --listen HOST:PORT --join SEEDS
//                                                one member of a cluster
//   cleave local --nodes N --data DIR --s3-port P
//                                                an N-process cluster on this machine
//   cleave admin status|compact|failpoint        operate a cluster
//   cleave mb|ls|cp|rm|cat|stat ...              a small S3 client

#include <CLI/CLI.hpp>

#include "cli/admin_command.h"
#include "cli/client_commands.h"
#include "cli/dev_command.h"
#include "cli/local_command.h"
#include "cli/server_command.h"

int main(int argc, char** argv) {
    CLI::App app{"Cleave: a strongly consistent, S3-compatible object store"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("cleave 0.1.0"));

    cleave::cli::DevOptions dev;
    auto* dev_cmd = app.add_subcommand("dev", "Run a one-node store with an S3 endpoint");
    cleave::cli::add_dev_options(*dev_cmd, dev);
    dev_cmd->callback([&] { std::exit(cleave::cli::run_dev(dev)); });

    cleave::cli::ServerOptions server;
    auto* server_cmd = app.add_subcommand("server", "Run one member of a cluster");
    cleave::cli::add_server_options(*server_cmd, server);
    server_cmd->callback([&] { std::exit(cleave::cli::run_server(server)); });

    cleave::cli::ServerOptions gateway;
    auto* gateway_cmd = app.add_subcommand(
        "gateway", "Run a standalone S3 gateway of a cluster (no member, holds no data)");
    cleave::cli::add_server_options(*gateway_cmd, gateway);
    gateway_cmd->callback([&] {
        gateway.gateway = true;
        std::exit(cleave::cli::run_server(gateway));
    });

    cleave::cli::LocalOptions local;
    auto* local_cmd =
        app.add_subcommand("local", "Run an N-node cluster on this machine (127.0.0.1..N)");
    cleave::cli::add_local_options(*local_cmd, local);
    local_cmd->callback([&] { std::exit(cleave::cli::run_local(local)); });

    cleave::cli::add_admin_commands(app);
    cleave::cli::add_client_commands(app);

    CLI11_PARSE(app, argc, argv);
    return 0;
}
