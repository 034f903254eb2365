#include "protocol/registry_message.hpp"

#include <doctest/doctest.h>
