#include "protocol/webhook_url.hpp"

#include <doctest/doctest.h>
