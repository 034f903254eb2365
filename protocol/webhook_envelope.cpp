#include "protocol/webhook_envelope.hpp"
