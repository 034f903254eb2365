// HTTP responses as the webhook client reads them: a Beast response parser
// with a 64 KiB body limit reads the header, skips up to 8 interim (1xx)
// responses and reads the body unless it is chunked. The first input byte sets
// how many bytes each read returns; the rest is what the receiver sent. A
// parsed body never exceeds the limit, and a complete one matches its
// Content-Length.
#include "tests/fuzz/fuzz_check.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>

using namespace pilot;

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

/// The webhook client's limits (webhook/http_client.hpp).
constexpr std::size_t max_response_body = 64 * 1024;
constexpr int max_interim_responses = 8;

/// A synchronous read stream that returns the input a few bytes at a time
/// and then the end of the stream.
class input_stream {
public:
  using executor_type = asio::any_io_executor;

  input_stream(std::string_view input, std::size_t chunk)
      : input_(input), chunk_(chunk) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers,
                        boost::system::error_code& ec) {
    if (input_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    auto n = asio::buffer_copy(
        buffers, asio::buffer(input_.data(), std::min(chunk_, input_.size())));
    input_.remove_prefix(n);
    return n;
  }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    auto n = read_some(buffers, ec);
    if (ec)
      throw boost::system::system_error{ec};
    return n;
  }

private:
  std::string_view input_;
  std::size_t chunk_;
};

void check_final_response(
    const http::response_parser<http::string_body>& parser) {
  const auto& body = parser.get().body();
  fuzz::check(body.size() <= max_response_body, "body within the limit");
  // A 1xx, 204 or 304 response has no body, whatever its Content-Length.
  auto status = parser.get().result_int();
  auto has_body = status >= 200 && status != 204 && status != 304;
  if (has_body && parser.is_done() && parser.content_length())
    fuzz::check(body.size() == *parser.content_length(),
                "a complete body matches its Content-Length");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0)
    return 0;
  input_stream stream{fuzz::text_of(data + 1, size - 1),
                      std::size_t{data[0]} + 1};
  boost::beast::flat_buffer buffer;
  for (int interim = 0; interim <= max_interim_responses; ++interim) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_body);
    boost::system::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (ec)
      return 0;
    fuzz::check(parser.is_header_done(), "a read header is complete");
    auto status = parser.get().result_int();
    if (status >= 100 && status < 200 && status != 101)
      continue;
    // The client closes the connection instead of reading a chunked body.
    if (parser.chunked())
      return 0;
    if (!parser.is_done())
      http::read(stream, buffer, parser, ec);
    if (!ec)
      check_final_response(parser);
    fuzz::check(parser.get().body().size() <= max_response_body,
                "body within the limit");
    return 0;
  }
  return 0;
}
