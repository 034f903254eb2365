#include "protocol/registry_message.hpp"
