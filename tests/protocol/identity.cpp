#include "protocol/identity.hpp"

#include <doctest/doctest.h>
