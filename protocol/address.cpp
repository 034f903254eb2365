#include "protocol/address.hpp"
