#include "protocol/events.hpp"
