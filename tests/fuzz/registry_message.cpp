// Registry JSON messages. The first byte picks a message type (or the
// request dispatcher) and the rest is the body. Whatever decodes must
// encode to a body that decodes and encodes to the same bytes again.
#include "protocol/registry_message.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <tuple>
#include <type_traits>

using namespace pilot;
using namespace pilot::protocol;

namespace {

using message_types = std::tuple<
    register_request, heartbeat_request, deregister_request, lookup_request,
    resolve_request, resolve_hostname_request, set_hostname_request,
    set_visibility_request, set_tags_request, set_task_exec_request,
    report_trust_request, revoke_trust_request, request_handshake_request,
    poll_handshakes_request, respond_handshake_request, punch_request,
    rotate_key_request, update_polo_score_request, set_polo_score_request,
    get_polo_score_request, list_networks_request, list_nodes_request,
    beacon_register_request, beacon_list_request, register_response,
    heartbeat_response, deregister_response, lookup_response, resolve_response,
    resolve_hostname_response, set_hostname_response, set_visibility_response,
    set_tags_response, set_task_exec_response, report_trust_response,
    revoke_trust_response, request_handshake_response, poll_handshakes_response,
    respond_handshake_response, punch_response, rotate_key_response,
    update_polo_score_response, set_polo_score_response,
    get_polo_score_response, list_networks_response, list_nodes_response,
    beacon_register_response, beacon_list_response, error_response>;

template <class Message>
void check_round_trip(const Message& message) {
  auto first = encode_registry_message(message);
  auto again = decode_registry_message<Message>(first);
  fuzz::check(again.has_value(), "an encoded message decodes");
  fuzz::check(encode_registry_message(*again) == first,
              "decoding and encoding again is stable");
  auto request = decode_registry_request(first);
  fuzz::check(request.has_value(), "an encoded message is a request body");
  fuzz::check(!is_error_response(first)
                  || std::is_same_v<Message, error_response>,
              "only the error response reads as a failure");
}

template <class Message>
void fuzz_one(std::string_view body) {
  if (auto message = decode_registry_message<Message>(body))
    check_round_trip(*message);
}

template <std::size_t... I>
void fuzz_type(std::size_t index, std::string_view body,
               std::index_sequence<I...>) {
  ((index == I ? fuzz_one<std::tuple_element_t<I, message_types>>(body)
               : void()),
   ...);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0)
    return 0;
  auto body = fuzz::text_of(data + 1, size - 1);
  constexpr auto count = std::tuple_size_v<message_types>;
  is_error_response(body);
  error_text(body);
  if (data[0] >= count) {
    auto request = decode_registry_request(body);
    if (request)
      std::visit(
          [](const auto& m) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(m)>,
                                          unknown_request>)
              check_round_trip(m);
          },
          *request);
    return 0;
  }
  fuzz_type(data[0], body, std::make_index_sequence<count>{});
  return 0;
}
