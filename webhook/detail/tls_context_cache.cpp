#include "webhook/detail/tls_context_cache.hpp"

#include "protocol/webhook_signature.hpp"

#include <boost/asio/buffer.hpp>
#include <openssl/ssl.h>

#include <algorithm>

#include <sys/stat.h>

namespace pilot::webhook::detail {

namespace {

namespace ssl = boost::asio::ssl;

// Returns the key of the current version of `ca_file`: its inode, size,
// change time and modification time. A file renamed over the path gets a new
// key even when `cp -p` or `touch -r` copied the old modification time.
// Empty for the system trust store.
std::string cache_key(const std::string& ca_file) {
  if (ca_file.empty())
    return {};
  struct stat info {};
  if (::stat(ca_file.c_str(), &info) != 0)
    return ca_file + '\n';
  auto nanoseconds = [](const timespec& time) {
    return std::to_string(time.tv_sec) + "." + std::to_string(time.tv_nsec);
  };
  return ca_file + '\n' + std::to_string(info.st_ino) + " "
         + std::to_string(info.st_size) + " " + nanoseconds(info.st_ctim) + " "
         + nanoseconds(info.st_mtim);
}

tls_context_cache::lookup_result make_context(const std::string& ca_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  auto* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec)
      return "loading the system trust store failed: " + ec.message();
    return context;
  }
  // Read once and bounded, so that a FIFO or a huge file cannot stall the
  // HTTP client's thread.
  auto pem = protocol::read_ca_file(ca_file);
  if (!pem)
    return std::move(pem.error());
  context->add_certificate_authority(boost::asio::buffer(*pem), ec);
  if (ec)
    return "loading webhook CA file " + ca_file + " failed: " + ec.message();
  return context;
}

} // namespace

tls_context_cache::tls_context_cache(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {
  // nop
}

tls_context_cache::lookup_result
tls_context_cache::get(const std::string& ca_file) {
  auto key = cache_key(ca_file);
  std::lock_guard guard{mutex_};
  auto i = std::find_if(entries_.begin(), entries_.end(),
                        [&key](const entry& x) { return x.first == key; });
  if (i != entries_.end()) {
    auto found = std::move(*i);
    entries_.erase(i);
    entries_.push_back(std::move(found));
    return entries_.back().second;
  }
  // Loaded under the lock, so that concurrent first uses load the file
  // once. Only sessions that open a new connection wait for it.
  auto loaded = make_context(ca_file);
  if (!loaded)
    return loaded;
  // The entry of an earlier version of the same file is of no further use.
  std::erase_if(entries_, [&ca_file](const entry& x) {
    return !ca_file.empty() && x.first.starts_with(ca_file + '\n');
  });
  while (entries_.size() >= capacity_)
    entries_.pop_front();
  entries_.emplace_back(std::move(key), *loaded);
  return loaded;
}

std::size_t tls_context_cache::size() const {
  std::lock_guard guard{mutex_};
  return entries_.size();
}

} // namespace pilot::webhook::detail
