#include "protocol/address.hpp"

#include <doctest/doctest.h>
