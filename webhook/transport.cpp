#include "webhook/transport.hpp"

namespace pilot::webhook {

transport::~transport() = default;

} // namespace pilot::webhook
