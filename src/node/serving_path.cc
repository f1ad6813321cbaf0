#include "node/serving_path.h"

namespace cleave::node {

namespace {
// A snapshot tagged with the path that made it.
class TaggedSnapshot final : public storage::Snapshot {
  public:
    TaggedSnapshot(bool local, std::unique_ptr<storage::Snapshot> inner)
        : local(local), inner(std::move(inner)) {}
    const bool local;
    const std::unique_ptr<storage::Snapshot> inner;
};
}  // namespace

const storage::Snapshot* ServingPath::Engine::inner(const storage::Snapshot* s, bool local) const {
    if (!s) return nullptr;
    const auto* t = static_cast<const TaggedSnapshot*>(s);
    return t->local == local ? t->inner.get() : nullptr;
}

Result<std::optional<std::string>> ServingPath::Engine::get(std::string_view key,
                                                            const storage::Snapshot* snapshot) {
    const bool local = p_.local();
    return (local ? p_.local_engine_ : p_.remote_engine_).get(key, inner(snapshot, local));
}

Status ServingPath::Engine::write(const storage::WriteBatch& batch,
                                  const storage::WriteOptions& options) {
    return current().write(batch, options);
}

std::unique_ptr<storage::Iterator> ServingPath::Engine::iterate(
    const storage::IterOptions& options) {
    const bool local = p_.local();
    storage::IterOptions o = options;
    o.snapshot = inner(options.snapshot, local);
    return (local ? p_.local_engine_ : p_.remote_engine_).iterate(o);
}

std::unique_ptr<storage::Snapshot> ServingPath::Engine::snapshot() {
    const bool local = p_.local();
    return std::make_unique<TaggedSnapshot>(
        local, (local ? p_.local_engine_ : p_.remote_engine_).snapshot());
}

}  // namespace cleave::node
