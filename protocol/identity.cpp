#include "protocol/identity.hpp"
