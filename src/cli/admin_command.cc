#include "cli/admin_command.h"

#include <cstdio>
#include <memory>

#include "cli/client_commands.h"

namespace cleave::cli {

namespace {

struct AdminFlags {
    std::string endpoint;
    std::string access_key;
    std::string secret_key;
    std::string region = "us-east-1";
    bool json = false;
    std::string failpoint;
    uint64_t node = 0;
    bool undo = false;
    std::string value;
};

int fail(const std::string& what) {
    std::fprintf(stderr, "cleave admin: %s\n", what.c_str());
    return 1;
}

int run(const AdminFlags& f, const std::string& method, const std::string& op,
        const s3::QueryParams& query) {
    auto client = connect_client(f.endpoint, f.access_key, f.secret_key, f.region);
    if (!client.is_ok()) return fail(client.status().message());
    auto r = (*client)->request(method, "_cleave", "admin/" + op, query, "");
    if (!r.is_ok()) return fail(r.status().message());
    if (r->status != 200) {
        return fail(fmt::format("{} answered HTTP {}: {}", op, r->status, r->body));
    }
    std::fwrite(r->body.data(), 1, r->body.size(), stdout);
    return 0;
}

}  // namespace

void add_admin_commands(CLI::App& app) {
    auto f = std::make_shared<AdminFlags>();
    auto* admin = app.add_subcommand(
        "admin",
        "Operate a store or cluster: status, shards, split, plan, drain, compact, failpoint");
    admin->require_subcommand(1);
    admin->add_option("--endpoint", f->endpoint,
                      "A node's S3 endpoint (default $CLEAVE_ENDPOINT or http://127.0.0.1:9000)");
    admin->add_option("--access-key", f->access_key, "Default $CLEAVE_ACCESS_KEY");
    admin->add_option("--secret-key", f->secret_key, "Default $CLEAVE_SECRET_KEY");
    admin->add_option("--region", f->region, "Region to sign for");

    auto* status = admin->add_subcommand("status", "Nodes, shards, leaders, applied indexes, lag");
    status->add_flag("--json", f->json, "JSON (the only format today)");
    status->callback([f] { std::exit(run(*f, "GET", "status", {})); });

    auto* shards =
        admin->add_subcommand("shards", "Every shard: range, epoch, replicas, leader, size, load");
    shards->add_flag("--json", f->json, "JSON (the only format today)");
    shards->callback([f] { std::exit(run(*f, "GET", "shards", {})); });
    auto* plan = admin->add_subcommand(
        "plan", "The placement driver's next steps for the cluster as it is (not executed)");
    plan->add_flag("--json", f->json, "JSON (the only format today)");
    plan->callback([f] { std::exit(run(*f, "GET", "plan", {})); });
    auto* drain = admin->add_subcommand(
        "drain", "Move every data-shard replica off a node (before removing it)");
    drain->add_option("node", f->node, "Node id")->required()->check(CLI::PositiveNumber);
    drain->add_flag("--undo", f->undo, "Stop draining the node");
    drain->callback([f] {
        std::exit(run(*f, "POST", "drain",
                      {{"node", std::to_string(f->node)}, {"value", f->undo ? "off" : "on"}}));
    });
    auto* split = admin->add_subcommand(
        "split",
        "Split a shard in two: at KEY (a placement key in hex, as `shards` shows "
        "ranges), or where it halves the shard's data");
    split->add_option("shard", f->node, "Shard id")->required()->check(CLI::PositiveNumber);
    split->add_option("key", f->value, "Placement key to split at, in hex");
    split->callback([f] {
        s3::QueryParams q = {{"shard", std::to_string(f->node)}};
        if (!f->value.empty()) q.push_back({"key", f->value});
        std::exit(run(*f, "POST", "split", q));
    });
    auto* compact = admin->add_subcommand("compact", "Snapshot the node's shards and compact logs");
    compact->callback([f] { std::exit(run(*f, "POST", "compact", {})); });

    auto* fp = admin->add_subcommand("failpoint", "Turn a failpoint on or off: partition on|off");
    fp->add_option("name", f->failpoint, "Failpoint: partition")
        ->required()
        ->check(CLI::IsMember({"partition"}));
    fp->add_option("value", f->value, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
    fp->callback([f] {
        std::exit(run(*f, "POST", "failpoint", {{"name", f->failpoint}, {"value", f->value}}));
    });
}

}  // namespace cleave::cli
