#pragma once

// Webhook secrets and a CA certificate for the tests of the webhook
// settings.

#include <string>
#include <string_view>

namespace pilot::test {

/// A valid webhook secret: `whsec_` and 32 random bytes in base64.
inline const std::string test_secret
    = "whsec_Iw20Z4NEyKQwYlPzQNJsHb0ygzZNSAh9xcI5x+c/+Sk=";

/// A second valid secret, as during a rotation: 32 zero bytes.
inline const std::string other_secret
    = "whsec_" + std::string(32, 'A') + "AAAAAAAAAAA=";

/// A self-signed CA certificate (P-256, CN pilot-test-ca) for CA file tests.
inline constexpr std::string_view test_ca_pem = R"(-----BEGIN CERTIFICATE-----
MIIBiDCCAS2gAwIBAgIUfSY02hAPvrDllgdLUbqSUdVM/z4wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcGlsb3QtdGVzdC1jYTAgFw0yNjEyMDUwMDE0NDFaGA8yMTI2
MTExMTAwMTQ0MVowGDEWMBQGA1UEAwwNcGlsb3QtdGVzdC1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABNHtvEF/pok+KCONUYN28R+D81wi7BTaXlGF3i4HnUjh
CuT1wTYv+dGJjlzAgRaQMYQ1onSCJMGNgsZu5AEAVwKjUzBRMB0GA1UdDgQWBBTU
n9ocwCGI9CwWLdmT1+tOihN1jzAfBgNVHSMEGDAWgBTUn9ocwCGI9CwWLdmT1+tO
ihN1jzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQC8+tnHCPff
WsWkHQOdfqCjZdnf0PO4MOVEnBdz8xxJNgIhAN3sQsdEn6YsbKDIbZEOvAy3jzTo
jjQBPinPzd6+8Fv0
-----END CERTIFICATE-----
)";

} // namespace pilot::test
