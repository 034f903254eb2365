#include "protocol/webhook_envelope.hpp"

#include <doctest/doctest.h>
