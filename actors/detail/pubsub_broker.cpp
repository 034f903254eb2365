#include "actors/detail/pubsub_broker.hpp"

#include <algorithm>
#include <utility>

namespace pilot::actors::detail {

namespace {

constexpr std::string_view wildcard_topic = "*";

} // namespace

bool pubsub_broker::open(std::uint32_t conn_id, std::string remote) {
  if (connections_.size() >= limits_.max_connections)
    return false;
  pubsub_connection entry;
  entry.remote = std::move(remote);
  return connections_.emplace(conn_id, std::move(entry)).second;
}

bool pubsub_broker::subscribe(std::uint32_t conn_id, std::string topic) {
  auto i = connections_.find(conn_id);
  if (i == connections_.end() || i->second.topic)
    return false;
  topics_[topic].insert(conn_id);
  i->second.topic = std::move(topic);
  return true;
}

const pubsub_connection* pubsub_broker::find(std::uint32_t conn_id) const {
  auto i = connections_.find(conn_id);
  return i == connections_.end() ? nullptr : &i->second;
}

std::vector<std::uint32_t>
pubsub_broker::recipients(std::uint32_t sender, std::string_view topic) const {
  std::vector<std::uint32_t> result;
  auto add_subscribers_of = [&](std::string_view name) {
    auto i = topics_.find(name);
    if (i == topics_.end())
      return;
    for (auto conn_id : i->second)
      if (conn_id != sender)
        result.push_back(conn_id);
  };
  add_subscribers_of(topic);
  // A connection has one topic, so the two sets never overlap.
  if (topic != wildcard_topic)
    add_subscribers_of(wildcard_topic);
  std::sort(result.begin(), result.end());
  return result;
}

delivery pubsub_broker::deliver(std::uint32_t subscriber, shared_frame frame) {
  auto i = connections_.find(subscriber);
  if (i == connections_.end())
    return delivery::disconnect;
  auto& entry = i->second;
  if (entry.queue.empty() && entry.in_flight < limits_.max_writes_in_flight) {
    ++entry.in_flight;
    return delivery::write_now;
  }
  if (entry.queue.size() + 1 > limits_.max_queued_frames
      || entry.queued_bytes + frame->size() > limits_.max_queued_bytes
      || total_queued_ + frame->size() > limits_.max_total_queued_bytes)
    return delivery::disconnect;
  entry.queued_bytes += frame->size();
  total_queued_ += frame->size();
  entry.queue.push_back(std::move(frame));
  return delivery::queued;
}

shared_frame pubsub_broker::complete_write(std::uint32_t subscriber) {
  auto i = connections_.find(subscriber);
  if (i == connections_.end())
    return nullptr;
  auto& entry = i->second;
  if (entry.in_flight > 0)
    --entry.in_flight;
  if (entry.queue.empty())
    return nullptr;
  auto next = std::move(entry.queue.front());
  entry.queue.pop_front();
  entry.queued_bytes -= next->size();
  total_queued_ -= next->size();
  ++entry.in_flight;
  return next;
}

std::optional<pubsub_connection> pubsub_broker::close(std::uint32_t conn_id) {
  auto i = connections_.find(conn_id);
  if (i == connections_.end())
    return std::nullopt;
  auto entry = std::move(i->second);
  connections_.erase(i);
  total_queued_ -= entry.queued_bytes;
  if (entry.topic) {
    auto t = topics_.find(*entry.topic);
    if (t != topics_.end()) {
      t->second.erase(conn_id);
      if (t->second.empty())
        topics_.erase(t);
    }
  }
  return entry;
}

} // namespace pilot::actors::detail
