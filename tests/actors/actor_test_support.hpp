#pragma once

#include "actors/error.hpp"
#include "actors/fwd.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "protocol/address.hpp"
#include "protocol/events.hpp"
#include "protocol/packet.hpp"

#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

/// Fixture parts that the actor tests share: an actor system on CAF's
/// deterministic scheduler, an event sink that records, and a stand-in
/// connection actor for the built-in services.
namespace pilot::test {

// -- actor system -------------------------------------------------------------

/// An actor system on CAF's deterministic scheduler with every message type
/// of the daemon's actors registered. Fixtures derive from it and run the
/// actors with `sched.run()`.
struct deterministic_system {
  deterministic_system()
      : sys(configure(cfg)),
        sched(
            dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

  /// Selects the testing scheduler and registers the type ID blocks and the
  /// renderer of `actors::errc`.
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.add_message_types<caf::id_block::pilot_actors>();
    cfg.add_message_types<caf::id_block::pilot_transport>();
    cfg.add_message_types<caf::id_block::pilot_services>();
    actors::add_error_renderer(cfg);
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
};

// -- events -------------------------------------------------------------------

/// The events that a recording sink received, in order.
using event_list = std::shared_ptr<std::vector<protocol::event>>;

/// Behaves as the event sink and appends every event to `events`.
inline actors::event_sink_actor::behavior_type
recording_sink(event_list events) {
  return {
      [events](protocol::event& event) { events->push_back(std::move(event)); },
      [](actors::node_id_atom, std::uint32_t) {},
  };
}

/// Returns the events of type `Event` in `events`, in order.
template <class Event>
std::vector<Event> events_of(const std::vector<protocol::event>& events) {
  std::vector<Event> result;
  for (const auto& event : events)
    if (auto* typed = std::get_if<Event>(&event))
      result.push_back(*typed);
  return result;
}

/// Returns the events of type `Event` in `events`, in order.
template <class Event>
std::vector<Event> events_of(const event_list& events) {
  return events_of<Event>(*events);
}

// -- stand-in connection actor ------------------------------------------------

/// Completes the writes of one connection that the stand-in held back.
using release_atom = caf::atom_constant<caf::atom("release")>;
constexpr release_atom release_atom_v = release_atom{};

/// The connection actor's interface plus `release_atom`.
using recording_connection_actor = actors::connection_actor::extend<
    caf::reacts_to<release_atom, std::uint32_t>>;

/// One write that a service made.
struct write_record {
  std::uint32_t conn_id = 0;
  std::string data;
};

/// The calls that the stand-in connection actor received, and the faults it
/// injects.
struct connection_record {
  std::vector<std::uint64_t> opened_clients;
  std::vector<std::uint64_t> closed_clients;
  std::vector<std::pair<std::uint64_t, std::uint16_t>> binds;
  std::vector<write_record> writes;
  std::vector<std::uint32_t> closes;
  /// The client that every write and close must come from, when set.
  std::optional<std::uint64_t> expected_client;
  /// Ports whose `bind` fails as if another client had bound them.
  std::set<std::uint16_t> taken_ports;
  /// Connections whose writes stay unanswered until `release_atom`.
  std::set<std::uint32_t> held_connections;
  /// Connections whose writes fail.
  std::set<std::uint32_t> failing_connections;
  /// The response promises of the held writes, by connection.
  std::map<std::uint32_t, std::vector<caf::typed_response_promise<bool>>>
      unanswered;

  /// Returns the data written to `conn_id`, one entry per write.
  std::vector<std::string> written_to(std::uint32_t conn_id) const {
    std::vector<std::string> result;
    for (const auto& write : writes)
      if (write.conn_id == conn_id)
        result.push_back(write.data);
    return result;
  }

  /// Returns the data written to `conn_id`, joined in order.
  std::string bytes_written_to(std::uint32_t conn_id) const {
    std::string result;
    for (const auto& write : writes)
      if (write.conn_id == conn_id)
        result += write.data;
    return result;
  }

  void check_client(std::uint64_t client) const {
    if (expected_client)
      CHECK(client == *expected_client);
  }
};

using connection_record_pointer = std::shared_ptr<connection_record>;

/// Plays the connection actor for one service. Records client, bind, write
/// and close calls in `rec` and injects the faults that `rec` lists. Dials
/// always fail with `errc::not_found`.
inline recording_connection_actor::behavior_type
recording_connections(recording_connection_actor::pointer self,
                      connection_record_pointer rec) {
  using namespace actors;
  return {
      [](deliver_atom, std::vector<protocol::packet>&) {},
      [](node_info&) {},
      [rec](client_opened_atom, ipc_client& client) {
        rec->opened_clients.push_back(client.id);
      },
      [rec](client_closed_atom, std::uint64_t id) {
        rec->closed_clients.push_back(id);
      },
      [rec](bind_atom, std::uint64_t client,
            std::uint16_t port) -> caf::result<std::uint16_t> {
        rec->binds.emplace_back(client, port);
        if (rec->taken_ports.contains(port))
          return make_error(errc::invalid_argument,
                            "port " + std::to_string(port) + " already bound");
        return port;
      },
      [](dial_atom, std::uint64_t, protocol::address,
         std::uint16_t) -> caf::result<std::uint32_t> {
        return make_error(errc::not_found, "no dials here");
      },
      [self, rec](write_atom, std::uint64_t client, std::uint32_t conn_id,
                  std::string& data) -> caf::result<bool> {
        rec->check_client(client);
        rec->writes.push_back({conn_id, std::move(data)});
        if (rec->failing_connections.contains(conn_id))
          return make_error(errc::not_found, "connection not found");
        if (!rec->held_connections.contains(conn_id))
          return true;
        auto promise = self->make_response_promise<bool>();
        rec->unanswered[conn_id].push_back(promise);
        return promise;
      },
      [rec](close_atom, std::uint64_t client, std::uint32_t conn_id) {
        rec->check_client(client);
        rec->closes.push_back(conn_id);
        return conn_id;
      },
      [](send_to_atom, std::uint64_t, protocol::address, std::uint16_t,
         std::string&) -> caf::result<bool> { return true; },
      [](pushed_atom, std::uint32_t, std::uint32_t) {},
      [](info_atom) { return transport_summary{}; },
      [rec](release_atom, std::uint32_t conn_id) {
        rec->held_connections.erase(conn_id);
        auto promises = std::move(rec->unanswered[conn_id]);
        rec->unanswered.erase(conn_id);
        for (auto& promise : promises)
          promise.deliver(true);
      },
  };
}

} // namespace pilot::test
