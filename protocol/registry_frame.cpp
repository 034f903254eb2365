#include "protocol/registry_frame.hpp"
