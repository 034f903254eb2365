#include "protocol/go_json.hpp"
