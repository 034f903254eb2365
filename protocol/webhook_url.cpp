#include "protocol/webhook_url.hpp"
